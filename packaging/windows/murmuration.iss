; Inno Setup script: the Windows installer of the one-folder bundle (packaging/build.py runs ISCC with the /D values).
;   iscc /DAppVersion=0.1.0 /DBundleDir=dist\murmuration /DOutputDir=dist /DOutputName=murmuration-0.1.0-windows-x86_64-setup murmuration.iss
; It installs per user by default (no administrator needed), adds a Start-menu entry for the tray and an uninstaller.
; Uninstalling removes the program, never the instances' data (%LOCALAPPDATA%\Murmuration).

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef BundleDir
  #define BundleDir AddBackslash(SourcePath) + "..\..\dist\murmuration"
#endif
#ifndef OutputDir
  #define OutputDir AddBackslash(SourcePath) + "..\..\dist"
#endif
#ifndef OutputName
  #define OutputName "murmuration-" + AppVersion + "-windows-setup"
#endif

[Setup]
AppId={{6C1F3B0E-7E4A-4F57-9B0D-5A2C8E6D9F41}
AppName=Murmuration
AppVersion={#AppVersion}
AppVerName=Murmuration {#AppVersion}
AppPublisher=Murmuration
AppComments=A local hub for AI coding agents
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\Murmuration
DefaultGroupName=Murmuration
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename={#OutputName}
SetupIconFile={#SourcePath}..\..\resources\icons\murmuration.ico
UninstallDisplayIcon={app}\murmuration-tray.exe
UninstallDisplayName=Murmuration
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; The tray and the instances it started run from {app}: ask them to close before files are replaced or removed.
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Murmuration"; Filename: "{app}\murmuration-tray.exe"; Comment: "A local hub for AI coding agents"
Name: "{group}\Uninstall Murmuration"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Murmuration"; Filename: "{app}\murmuration-tray.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\murmuration-tray.exe"; Description: "{cm:LaunchProgram,Murmuration}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Start at login is the "Murmuration" value of the user's Run key (tray/autostart.py writes it): it goes with the
; program. reg.exe fails harmlessly when the value is not there.
Filename: "{sys}\reg.exe"; Parameters: "delete ""HKCU\Software\Microsoft\Windows\CurrentVersion\Run"" /v Murmuration /f"; Flags: runhidden; RunOnceId: "DeleteStartAtLogin"
